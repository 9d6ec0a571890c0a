package pins_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/device/pins"
)

func TestOpenMissingPinIsNamed(t *testing.T) {
	_, err := pins.Open("INTERCOMD_NO_SUCH_PIN")
	if !errors.Is(err, pins.ErrNotFound) || !strings.Contains(err.Error(), "INTERCOMD_NO_SUCH_PIN") {
		t.Fatalf("Open = %v, want ErrNotFound naming the pin", err)
	}
	if _, err := pins.OpenWiegand("INTERCOMD_NO_D0", "INTERCOMD_NO_D1"); err == nil || !strings.Contains(err.Error(), "INTERCOMD_NO_D0") {
		t.Fatalf("OpenWiegand = %v, want an error naming the lines", err)
	}
	if _, err := pins.OpenWiegand("X", "X"); err == nil {
		t.Fatal("OpenWiegand accepted one line for D0 and D1")
	}
}

// TestKernelWiegandLines runs against real GPIO lines, e.g. a gpio-sim chip:
//
//	INTERCOMD_GPIO_D0=... INTERCOMD_GPIO_D1=... go test ./device/pins
func TestKernelWiegandLines(t *testing.T) {
	d0, d1 := os.Getenv("INTERCOMD_GPIO_D0"), os.Getenv("INTERCOMD_GPIO_D1")
	if d0 == "" || d1 == "" {
		t.Skip("set INTERCOMD_GPIO_D0 and INTERCOMD_GPIO_D1 to test against kernel gpio lines")
	}
	src, err := pins.OpenWiegand(d0, d1)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	if _, ok, err := src.WaitForEdge(-1); err != nil || ok {
		t.Fatalf("idle lines: edge %v, err %v", ok, err)
	}
	if time.Since(start) < 500*time.Microsecond {
		t.Error("a non-positive timeout returned at once (periph/host#78 not worked around)")
	}
}
