package com.example;

import java.io.Serializable;

/** One untyped field, to carry any value inside an object. */
public class Holder implements Serializable {
    public Object value;

    public Holder() {}

    public Holder(Object value) {
        this.value = value;
    }
}
