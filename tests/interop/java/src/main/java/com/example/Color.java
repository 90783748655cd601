package com.example;

/** The enum field of User. */
public enum Color {
    RED,
    GREEN,
    BLUE
}
