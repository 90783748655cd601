/* Starts the Nacos 0.8.0 naming server as Nacos's own console module does
 * (that module is not on Maven Central): a Spring Boot application over
 * every com.alibaba.nacos component on the classpath. Run it with
 * -Dnacos.standalone=true -Dnacos.home=DIR -Dserver.address=127.0.0.1
 * -Dserver.port=PORT; the HTTP API is then under /nacos/v1/ns/. */
package org.dubboc.nacos;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.servlet.ServletComponentScan;
import org.springframework.scheduling.annotation.EnableScheduling;

@SpringBootApplication(scanBasePackages = "com.alibaba.nacos")
@ServletComponentScan
@EnableScheduling
public class NacosStandalone {
    public static void main(String[] args) {
        SpringApplication.run(NacosStandalone.class, args);
    }
}
