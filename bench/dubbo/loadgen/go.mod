module dubbo-c/bench/dubbo/loadgen

go 1.24
