package testkit

import (
	"fmt"
	"net"
	"os"
	"time"
)

// DialAndHold is a helper program's body (a test binary re-run in a helper
// mode): it connects over TCP to address, prints its own local address,
// holds the connection for hold (a Go duration) and closes it. It returns
// the exit status.
func DialAndHold(address, hold string) int {
	c, err := net.Dial("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println(c.LocalAddr().String())
	d, _ := time.ParseDuration(hold)
	time.Sleep(d)
	c.Close()
	return 0
}
