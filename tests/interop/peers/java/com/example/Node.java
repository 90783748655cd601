package com.example;

import java.io.Serializable;

/** A linked node: self and mutual references. */
public class Node implements Serializable {
    public int value;
    public Node next;

    public Node() {}

    public Node(int value) {
        this.value = value;
    }
}
