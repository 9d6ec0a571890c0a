package relay_test

import (
	"fmt"

	"periph.io/x/conn/v3/gpio"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/relay"
)

// The simulator's wiring: an observable relay output and two contacts. On
// the device the pins come from pins.Open with the names in the config.
func ExampleNew() {
	out := pinstest.NewOutput("RELAY", nil)
	dpi := pinstest.NewInput("DPI", gpio.Low)  // door closed
	rex := pinstest.NewInput("REX", gpio.High) // button released
	door, err := relay.New(relay.Config{}, out, dpi, rex, func(e access.Event) { fmt.Println("event", e.Type, e.Detail) }, nil)
	if err != nil {
		panic(err)
	}
	defer door.Halt()
	defer door.HaltOnPanic()
	// go door.Run(ctx) watches dpi and rex.
	if err := door.Unlock("grant"); err != nil {
		panic(err)
	}
	l, _ := out.Level()
	fmt.Println("relay", l, "unlocked", door.State().Unlocked)
	// Output:
	// event relay.changed unlocked: grant
	// relay High unlocked true
	// event relay.changed locked: halt
}
