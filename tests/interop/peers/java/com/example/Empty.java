package com.example;

import java.io.Serializable;

/** A class with no fields at all. */
public class Empty implements Serializable {}
