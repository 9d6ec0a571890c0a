package main

import "github.com/intercomd/intercomd/internal/config"

// Config is the daemon's configuration. Its schema and validation live in
// internal/config, which is kept free of the daemon's heavy dependencies
// (gocv, paho, Prometheus) so that its fuzz target runs fast.
type Config = config.Config

// LoadConfig reads and validates the config file at path.
func LoadConfig(path string) (*Config, error) { return config.Load(path) }

// ParseConfig decodes and validates a config document; name is used in
// errors.
func ParseConfig(name string, data []byte) (*Config, error) { return config.Parse(name, data) }
