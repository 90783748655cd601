package org.apache.dubbo.demo;

/** What DemoService.fail throws: an unchecked exception living in the API package. */
public class DemoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DemoException() {
        super();
    }

    public DemoException(String message) {
        super(message);
    }
}
