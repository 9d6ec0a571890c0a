// Package accesstest provides an in-memory access.Lookup for tests of
// packages that use the decision engine without a store.
//
// MapLookup is a fake in the periph gpiotest style: a struct with exported
// fields. Failures are injected through Err, or by embedding it and
// overriding Find.
package accesstest
