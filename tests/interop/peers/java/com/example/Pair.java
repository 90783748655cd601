package com.example;

import java.io.Serializable;

/** Two untyped fields: shared references between fields. */
public class Pair implements Serializable {
    public Object first;
    public Object second;

    public Pair() {}

    public Pair(Object first, Object second) {
        this.first = first;
        this.second = second;
    }
}
