package com.example;

import java.io.Serializable;
import java.util.Date;
import java.util.List;
import java.util.Map;

/** A POJO with a dozen fields of mixed kinds, declared in the order Hessian writes them. */
public class User implements Serializable {
    public int id;
    public String name;
    public long balance;
    public double score;
    public boolean active;
    public Integer age;
    public Long visits;
    public Date birthday;
    public byte[] avatar;
    public List<String> tags;
    public Map<String, Integer> attrs;
    public Address address;
}
