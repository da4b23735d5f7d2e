package e2etest

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// helperEnv makes the test binary play a program the tests run: a copy of
// it, with a hash of its own, is the "new network tool" of the live test.
const helperEnv = "CAIRN_E2E_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(mode string, args []string) int {
	switch mode {
	case "connect":
		// args: address hold
		c, err := net.Dial("tcp", args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		hold, _ := time.ParseDuration(args[1])
		time.Sleep(hold)
		c.Close()
		return 0
	}
	return 99
}
