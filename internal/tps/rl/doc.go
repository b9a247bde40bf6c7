// Package rl is the learned TPS allocator: a small actor-critic trained by PPO (clipped
// objective, GAE(λ), annealed entropy bonus, Adam) in the simulator, and the "learned"
// tps.Allocator that runs it live.
//
// The policy is residual: waterfill stays the allocator, and the policy only rescales each
// service's demand estimate before waterfill divides the capacity — so priorities, mins,
// maxes and the capacity are enforced by the same code as without it, the output still goes
// through tps.Constrain, and a policy that outputs zero is exactly waterfill. The allocator
// falls back to plain waterfill when the net's output is not finite or when its forecasts
// go wrong, can run in shadow mode (computing what it would do while waterfill enforces),
// and flags drift (Page-Hinkley on its forecast error) for the pool to act on.
//
// The nets are hand-written on gonum's BLAS: MLPs with two hidden layers of 32 units, small
// enough that a tick's inference takes microseconds and the net allocates nothing. The package must not know about
// HTTP, config files or the gateway; training (Train) uses the simulator, inference does not.
package rl
