// Package l4 proxies TCP connections and UDP datagrams to the targets of an upstream pool:
// aya's L4 load balancer. A TCP connection is balanced once, when it opens (by the pool's
// balancer, on the client's address), connected with a timeout and retried on another target
// when the connect fails, optionally preceded by a PROXY header, routed by the TLS server
// name it asks for without terminating TLS, and then spliced byte for byte (zero-copy on
// Linux) until either side closes or it stays idle. A UDP client's datagrams form a flow
// that keeps its target until it is idle.
//
// It knows upstream pools only through the Pool interface and nothing of config, routes,
// policies or HTTP; the gateway builds its settings from config and resolves upstream names
// to the pools of the running snapshot, so a reload changes where new connections go while
// connections already open keep their target.
package l4
