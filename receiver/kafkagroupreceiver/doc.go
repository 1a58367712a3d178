// Package kafkagroupreceiver consumes OTLP logs and traces from Kafka as one
// member of a consumer group and commits an offset only once every record
// before it is finished downstream: delivered, sampled out, or dead-lettered.
// Processors that hold records past the Consume call (tail_sampling) report
// completion through internal/ack, so a gateway killed with records still in
// its sampling buffer loses none of them: the next group member reads them
// again from the last committed offset.
//
//go:generate go tool mdatagen metadata.yaml
package kafkagroupreceiver // import "github.com/sluicelogs/sluice/receiver/kafkagroupreceiver"
