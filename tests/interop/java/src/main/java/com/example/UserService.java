package com.example;

/** The POJO service of the interop matrix (tests/interop/matrix/PEERS.md). */
public interface UserService {
    /** Returns u unchanged. */
    User echo(User u);

    /** Returns the canonical sample user. */
    User sample();

    /** "ok" when u equals the canonical sample field by field, else the first differing field. */
    String check(User u);
}
