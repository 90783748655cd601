package com.example;

import java.io.Serializable;

/** Superclass of Employee. */
public class Person implements Serializable {
    public String name;
    public int age;
}
