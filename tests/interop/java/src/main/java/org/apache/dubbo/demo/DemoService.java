package org.apache.dubbo.demo;

/** The demo service every peer of the interop matrix serves (tests/interop/matrix/PEERS.md). */
public interface DemoService {
    /** Returns "Hello " + name. */
    String sayHello(String name);

    /** Returns its argument unchanged. */
    Object echo(Object v);

    /** The provider's own address of the connection this call came on, ip:port. */
    String whoami();

    /** Sleeps ms milliseconds. */
    void sleep(int ms);

    /**
     * Throws DemoException with message msg. The throws clause changes nothing on the wire (a
     * method descriptor has no exceptions) but Dubbo 3.3 needs it: only classes named in the
     * interface are trusted by the default STRICT serialization check, so an undeclared
     * DemoException cannot even be written into the response (the consumer then gets an
     * RpcException "Fail to encode response" after 3 tries).
     */
    String fail(String msg) throws DemoException;

    /** The consumer's attachment key (null when absent); also sets response attachment "echo-" + key. */
    String attachment(String key);

    /** The consumer's address as the provider sees it, ip:port. */
    String peer();
}
