package rl

import (
	"math"
	"math/rand/v2"
)

// policy is the actor-critic. The actor is one small MLP applied to each service's features
// (the same weights for every service, so one model fits pools of any size and order); its
// output is the mean of a Gaussian action per service, with one learned log standard
// deviation. The critic reads pool-wide features and estimates the discounted return.
type policy struct {
	entIn, globIn, hidden int
	entNorm, globNorm     *normalizer
	actorVec              []float64 // the actor's MLP parameters followed by the log std
	actor, critic         *mlp
}

// initialLogStd starts exploration at σ ≈ 0.37 in action units (a factor of about e^±0.26 on
// a service's demand estimate).
const initialLogStd = -1.0

func newPolicy(entIn, globIn, hidden int, rng *rand.Rand) *policy {
	p := &policy{entIn: entIn, globIn: globIn, hidden: hidden}
	p.entNorm, p.globNorm = newNormalizer(entIn), newNormalizer(globIn)
	p.actorVec = make([]float64, mlpSize(p.actorSizes())+1)
	p.actor = newMLP(p.actorSizes(), p.actorVec[:len(p.actorVec)-1], 0.01, rng)
	p.actorVec[len(p.actorVec)-1] = initialLogStd
	p.critic = newMLP(p.criticSizes(), nil, 1, rng)
	return p
}

func (p *policy) actorSizes() []int  { return []int{p.entIn, p.hidden, p.hidden, 1} }
func (p *policy) criticSizes() []int { return []int{p.globIn, p.hidden, p.hidden, 1} }

func (p *policy) logStd() float64 { return p.actorVec[len(p.actorVec)-1] }

// gaussLogProb is log N(a; mu, σ) with log σ = logStd.
func gaussLogProb(a, mu, logStd float64) float64 {
	z := (a - mu) * math.Exp(-logStd)
	return -0.5*z*z - logStd - 0.5*math.Log(2*math.Pi)
}

// gaussEntropy is the entropy of one Gaussian action dimension.
func gaussEntropy(logStd float64) float64 {
	return 0.5*math.Log(2*math.Pi*math.E) + logStd
}
