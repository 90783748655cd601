package com.example;

import java.io.Serializable;

/** Static and transient fields are not written. */
public class Skips implements Serializable {
    public static int counter = 7;
    public transient int cache = 9;
    public int kept;
}
