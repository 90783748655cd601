package org.dubboc.interop;

import org.apache.dubbo.demo.DemoException;
import org.apache.dubbo.rpc.RpcContext;

/**
 * RestProvider's DemoService: the same behaviour as JavaProvider's, with the REST annotations of
 * RestDemoService. A top-level class on purpose: Dubbo's Javassist invoker wraps the
 * implementation class only when its name has no '$' (otherwise it wraps the exported interface,
 * DemoService, which lacks sayHelloQuery, and that route would fail with "no such method").
 */
public final class RestDemoImpl implements RestDemoService {
    @Override
    public String sayHello(String name) {
        return "Hello " + name;
    }

    @Override
    public String sayHelloQuery(String name) {
        return sayHello(name);
    }

    @Override
    public Object echo(Object v) {
        return v;
    }

    @Override
    public String whoami() {
        return RpcContext.getServiceContext().getLocalAddressString();
    }

    @Override
    public void sleep(int ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String fail(String msg) {
        throw new DemoException(msg);
    }

    @Override
    public String attachment(String key) {
        Object v = RpcContext.getServerAttachment().getObjectAttachment(key);
        String value = v == null ? null : v.toString();
        if (value != null) {
            RpcContext.getServerResponseContext().setAttachment("echo-" + key, value);
        }
        return value;
    }

    @Override
    public String peer() {
        return Cli.hostPort(RpcContext.getServiceContext().getRemoteAddress());
    }
}
