package com.example;

import java.io.Serializable;
import java.util.List;

/** Declares a compound field first: Hessian still writes primitives and java.lang.* types first. */
public class Mixed implements Serializable {
    public List<Integer> items;
    public int count;
    public Object any;
    public String label;
}
