// Package sim runs the TPS balancer offline on a virtual clock: scenario files (capacity,
// services, a demand trace), Poisson arrivals, a simulated upstream that enforces its cap per
// sliding second and answers 429 above it, the metrics allocators are judged by, trace
// generators for training, and a gym-like environment for reinforcement learning.
//
// It drives the very limiter, queue and allocators of package tps that serve live traffic —
// only the clock and the network are simulated — so a result here is a result of the shipped
// code. It must not know about HTTP, the gateway or the CLI.
package sim
