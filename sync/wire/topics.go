package wire

import (
	"fmt"
	"strings"
)

// Limits shared with managed brokers (AWS IoT Core, EMQX, HiveMQ).
const (
	Version        = 1          // the "v" of every message
	MaxPayload     = 128 * 1024 // bytes per message
	MaxTopicLevels = 7
	MaxDeviceID    = 64
)

// Topic is one of the per-device topics, intercom/<device>/<suffix>.
type Topic uint8

// The topics. Direction and QoS are in docs/protocol.md.
const (
	TopicUnknown       Topic = iota
	TopicDelta               // cloud → device: key deltas
	TopicHead                // cloud → device: retained current revision
	TopicSnapshot            // cloud → device: snapshot chunks
	TopicSnapshotReq         // device → cloud: snapshot requests
	TopicCommand             // cloud → device: commands
	TopicCommandResult       // device → cloud: command results
	TopicEvents              // device → cloud: event batches
	TopicStatus              // device → cloud: retained status, last will
	TopicPlate               // LPR camera → device: plate reads
	TopicFace                // face recogniser → device: face-match reads
)

var topicSuffix = [...]string{"", "keys/delta", "keys/head", "keys/snapshot", "keys/request", "cmd", "cmd/result", "events", "status", "lpr", "face"}

func (t Topic) String() string {
	if t > TopicUnknown && int(t) < len(topicSuffix) {
		return topicSuffix[t]
	}
	return fmt.Sprintf("topic(%d)", uint8(t))
}

// TopicPrefix is the first level of every topic.
const TopicPrefix = "intercom"

// Name returns the full topic name of t for device.
func (t Topic) Name(device string) string {
	return TopicPrefix + "/" + device + "/" + t.String()
}

// ParseTopic splits a topic name into its device and Topic.
func ParseTopic(name string) (device string, t Topic, err error) {
	rest, ok := strings.CutPrefix(name, TopicPrefix+"/")
	if !ok {
		return "", TopicUnknown, invalid("topic", "%q is not under %s/", name, TopicPrefix)
	}
	device, suffix, ok := strings.Cut(rest, "/")
	if !ok || ValidDevice(device) != nil {
		return "", TopicUnknown, invalid("topic", "%q has no valid device level", name)
	}
	for i, s := range topicSuffix {
		if i > 0 && s == suffix {
			return device, Topic(i), nil
		}
	}
	return device, TopicUnknown, invalid("topic", "unknown topic %q", name)
}

// ValidDevice checks a device id, which is also the MQTT client id: 1 to 64
// characters of [A-Za-z0-9_-].
func ValidDevice(id string) error {
	if len(id) < 1 || len(id) > MaxDeviceID || !idChars(id) {
		return invalid("device", "id must be 1-%d characters of [A-Za-z0-9_-]", MaxDeviceID)
	}
	return nil
}

func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
