package peer

import (
	"fmt"
	"strconv"
	"time"
)

// GettyHeartbeat translates Java Dubbo's "heartbeat" URL parameter
// (milliseconds; a side closes a connection that was silent for three
// heartbeats) into dubbo-go's getty session settings, which is where
// dubbo-go takes them from on the Dubbo protocol: "heartbeat-period" (how
// often the session's cron runs: it sends a heartbeat request and closes
// the session when it has been idle longer than "session-timeout").
// dubbo-go itself ignores a "heartbeat" key on the service or reference URL.
func GettyHeartbeat(ms string) (period, sessionTimeout time.Duration, err error) {
	n, err := strconv.Atoi(ms)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("heartbeat wants a positive number of milliseconds, got %q", ms)
	}
	period = time.Duration(n) * time.Millisecond
	return period, 3 * period, nil
}
