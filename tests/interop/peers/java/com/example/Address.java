package com.example;

import java.io.Serializable;

/** A small POJO nested inside others. */
public class Address implements Serializable {
    public String street;
    public String city;
    public int zip;

    public Address() {}

    public Address(String street, String city, int zip) {
        this.street = street;
        this.city = city;
        this.zip = zip;
    }
}
