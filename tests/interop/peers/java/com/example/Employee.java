package com.example;

/** Inheritance: Hessian writes the subclass's fields before the superclass's. */
public class Employee extends Person {
    public String company;
    public Person manager;
    public long salary;
}
