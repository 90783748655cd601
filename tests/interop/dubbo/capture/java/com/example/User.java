package com.example;

/** The User of the captures: fields in declaration order, as Hessian writes them. */
public class User implements java.io.Serializable {
    public String name;
    public int age;
}
