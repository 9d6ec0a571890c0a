// Command intercomctl is the technician's CLI for intercomd. It talks to the
// daemon's debug socket (package localapi) and prints human tables, or JSON
// with --json. See docs/technician.md for every command with example output.
//
// Exit codes: 0 ok, 1 error (including a missing socket or a refused peer),
// 2 usage.
package main
