// Package pins finds the intercom's GPIO pins by the names in the config,
// through periph.io: the GPIO character device (gpioioctl) where the kernel
// has it, sysfs otherwise.
//
// Concepts:
//   - Open returns named pins for the relay output and the door-position and
//     exit-button inputs (gpio.PinIO; the relay package takes the narrow
//     roles gpio.PinOut and gpio.PinIn). A name that no driver registered is
//     an error naming it: on a machine without GPIO, periph initialises fine
//     and registers nothing.
//   - OpenWiegand requests D0 and D1 as one gpioioctl LineSet (inputs,
//     pull-up, falling edges), the wiegand.EdgeSource of the device. Wiegand
//     is never read through sysfs, whose edges merge between two waits.
//   - Every wait takes a positive timeout: gpioioctl returns at once for a
//     negative one (periph/host#78).
//
// Fakes for CI and the simulator are in pinstest. Tests against a kernel
// (gpio-sim) are opt-in: set INTERCOMD_GPIO_D0 and INTERCOMD_GPIO_D1.
package pins
