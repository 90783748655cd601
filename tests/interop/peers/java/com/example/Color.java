package com.example;

/** An enum: Hessian writes it as an object with one field, "name". */
public enum Color {
    RED,
    GREEN,
    BLUE
}
