package org.dubboc.interop;

import javax.ws.rs.Consumes;
import javax.ws.rs.FormParam;
import javax.ws.rs.GET;
import javax.ws.rs.POST;
import javax.ws.rs.Path;
import javax.ws.rs.PathParam;
import javax.ws.rs.QueryParam;
import javax.ws.rs.core.MediaType;
import org.apache.dubbo.demo.DemoException;
import org.apache.dubbo.demo.DemoService;

/**
 * DemoService with the REST mapping of issue 14 (the one the C demo serves), in JAX-RS
 * annotations. Java Dubbo 3.3 reads REST mappings from the implementation's whole type
 * hierarchy, so RestDemoImpl (which implements this) is exported under the plain interface name
 * org.apache.dubbo.demo.DemoService and DemoService itself stays unannotated (TriProvider's
 * Triple-REST paths are unchanged). The REST consumer (the "rest" protocol of
 * dubbo-spi-extensions) builds its requests from these same annotations.
 *
 * JAX-RS gives one path per method, so the query form of sayHello is a second method,
 * sayHelloQuery (the provider answers it as sayHello); a consumer calling it sends
 * GET /demo/hello?name=.
 */
@Path("/demo")
public interface RestDemoService extends DemoService {
    @Override
    @GET
    @Path("/hello/{name}")
    String sayHello(@PathParam("name") String name);

    /**
     * GET /demo/hello?name=: the same answer as sayHello. Abstract, not a default method: the
     * rest consumer's metadata leaves default methods out (calling one fails with an NPE).
     */
    @GET
    @Path("/hello")
    String sayHelloQuery(@QueryParam("name") String name);

    /** The JSON body is the argument; the answer is the same JSON. */
    @Override
    @POST
    @Path("/echo")
    @Consumes(MediaType.APPLICATION_JSON)
    Object echo(Object v);

    @Override
    @GET
    @Path("/whoami")
    String whoami();

    @Override
    @POST
    @Path("/sleep")
    @Consumes(MediaType.APPLICATION_FORM_URLENCODED)
    void sleep(@FormParam("ms") int ms);

    /** The text/plain body is the message of the DemoException thrown. */
    @Override
    @POST
    @Path("/fail")
    @Consumes(MediaType.TEXT_PLAIN)
    String fail(String msg) throws DemoException;
}
