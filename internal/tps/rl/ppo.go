package rl

import (
	"math"
	"math/rand/v2"
	"slices"
)

// PPOConfig holds PPO's hyperparameters; zero values take the defaults in withDefaults.
type PPOConfig struct {
	Hidden       int     // units per hidden layer of actor and critic; default 32
	Gamma        float64 // discount; default 0.97
	Lambda       float64 // GAE λ; default 0.95
	Clip         float64 // clip range of the probability ratio; default 0.2
	Epochs       int     // passes over a batch; default 6
	Minibatch    int     // samples per gradient step; default 128
	ActorLR      float64 // Adam step of the actor; default 3e-4
	CriticLR     float64 // Adam step of the critic; default 1e-3
	EntropyStart float64 // entropy bonus at the first iteration; default 0.01
	EntropyEnd   float64 // entropy bonus at the last (annealed linearly); default 0
	TargetKL     float64 // stop a batch's epochs early past 1.5× this approximate KL; default 0.03
}

func (c PPOConfig) withDefaults() PPOConfig {
	setI := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setF := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	setI(&c.Hidden, 32)
	setF(&c.Gamma, 0.97)
	setF(&c.Lambda, 0.95)
	setF(&c.Clip, 0.2)
	setI(&c.Epochs, 6)
	setI(&c.Minibatch, 128)
	setF(&c.ActorLR, 3e-4)
	setF(&c.CriticLR, 1e-3)
	setF(&c.EntropyStart, 0.01)
	setF(&c.TargetKL, 0.03)
	return c
}

// sample is one decision: the standardised inputs the policy saw, the joint action over the
// entities (services), and what followed.
type sample struct {
	ents        []float64 // n × entIn, standardised
	glob        []float64
	rawEnts     []float64 // as the features were computed, for the running statistics
	rawGlob     []float64
	act         []float64 // one per entity
	logp, value float64
	reward      float64
	adv, ret    float64
}

// trajectory is a run of consecutive samples; bootstrap is the critic's value of the state
// after the last one (0 when the episode really ended there).
type trajectory struct {
	samples   []sample
	bootstrap float64
}

// ppo trains a policy with the clipped surrogate objective, GAE(λ) advantages, an annealed
// entropy bonus and Adam.
type ppo struct {
	cfg                 PPOConfig
	pol                 *policy
	actorOpt, criticOpt *adam
	gradA, gradC        []float64
	tapes               []*mlpTape // one per entity of the largest sample seen
	ctape               *mlpTape
	mus, dout           []float64
	rng                 *rand.Rand
}

func newPPO(cfg PPOConfig, entIn, globIn int, seed uint64) *ppo {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	pol := newPolicy(entIn, globIn, cfg.Hidden, rng)
	return &ppo{
		cfg:       cfg,
		pol:       pol,
		actorOpt:  newAdam(len(pol.actorVec), cfg.ActorLR),
		criticOpt: newAdam(len(pol.critic.params), cfg.CriticLR),
		gradA:     make([]float64, len(pol.actorVec)),
		gradC:     make([]float64, len(pol.critic.params)),
		ctape:     newMLPTape(pol.critic),
		dout:      make([]float64, 1),
		rng:       rng,
	}
}

func (t *ppo) tapesFor(n int) []*mlpTape {
	for len(t.tapes) < n {
		t.tapes = append(t.tapes, newMLPTape(t.pol.actor))
	}
	return t.tapes[:n]
}

// roller collects decisions with a frozen policy: several run in parallel during a training
// iteration, each with its own scratch and random stream, and only read the policy.
type roller struct {
	pol         *policy
	tape, ctape *mlpTape
	rng         *rand.Rand
}

func newRoller(pol *policy, seed uint64) *roller {
	return &roller{pol: pol, tape: newMLPTape(pol.actor), ctape: newMLPTape(pol.critic), rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// act standardises the raw inputs of n entities, samples a Gaussian action per entity, and
// returns the decision without its reward. The raw inputs are kept for the running
// statistics, which the trainer updates after the iteration (see observeInputs).
func (r *roller) act(rawEnts []float64, n int, rawGlob []float64) sample {
	p := r.pol
	s := sample{
		ents: make([]float64, n*p.entIn), glob: make([]float64, p.globIn), act: make([]float64, n),
		rawEnts: slices.Clone(rawEnts[:n*p.entIn]), rawGlob: slices.Clone(rawGlob),
	}
	p.globNorm.apply(rawGlob, s.glob)
	s.value = p.critic.forward(s.glob, r.ctape)[0]
	ls := p.logStd()
	sd := math.Exp(ls)
	for i := range n {
		raw, x := rawEnts[i*p.entIn:(i+1)*p.entIn], s.ents[i*p.entIn:(i+1)*p.entIn]
		p.entNorm.apply(raw, x)
		mu := p.actor.forward(x, r.tape)[0]
		s.act[i] = mu + sd*r.rng.NormFloat64()
		s.logp += gaussLogProb(s.act[i], mu, ls)
	}
	return s
}

// value is the critic's estimate for raw pool-wide inputs (for bootstrapping a cut episode).
func (r *roller) value(rawGlob []float64) float64 {
	g := make([]float64, r.pol.globIn)
	r.pol.globNorm.apply(rawGlob, g)
	return r.pol.critic.forward(g, r.ctape)[0]
}

// observeInputs feeds the raw inputs of a batch to the running statistics, in batch order so
// that training is deterministic however the collection was spread over goroutines.
func (t *ppo) observeInputs(trajs []trajectory) {
	p := t.pol
	for _, tr := range trajs {
		for _, s := range tr.samples {
			p.globNorm.observe(s.rawGlob)
			for i := range len(s.act) {
				p.entNorm.observe(s.rawEnts[i*p.entIn : (i+1)*p.entIn])
			}
		}
	}
}

// updateStats describes one update, for progress output.
type updateStats struct {
	PolicyLoss, ValueLoss, KL, ClipFrac, Entropy float64
	Epochs                                       int
}

// update runs GAE over the trajectories, then the clipped PPO epochs, and finally updates
// the input statistics for the next batch.
func (t *ppo) update(trajs []trajectory, entCoef float64) updateStats {
	cfg := t.cfg
	var all []*sample
	for ti := range trajs {
		tr := &trajs[ti]
		next, gae := tr.bootstrap, 0.0
		for k := len(tr.samples) - 1; k >= 0; k-- {
			s := &tr.samples[k]
			delta := s.reward + cfg.Gamma*next - s.value
			gae = delta + cfg.Gamma*cfg.Lambda*gae
			s.adv, s.ret = gae, gae+s.value
			next = s.value
		}
		for k := range tr.samples {
			all = append(all, &tr.samples[k])
		}
	}
	normaliseAdvantages(all)

	var st updateStats
	for epoch := range cfg.Epochs {
		t.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		var kl float64
		st = updateStats{Epochs: epoch + 1}
		for b := 0; b < len(all); b += cfg.Minibatch {
			mb := all[b:min(b+cfg.Minibatch, len(all))]
			mst := t.step(mb, entCoef)
			w := float64(len(mb)) / float64(len(all))
			st.PolicyLoss += w * mst.PolicyLoss
			st.ValueLoss += w * mst.ValueLoss
			st.ClipFrac += w * mst.ClipFrac
			st.Entropy = mst.Entropy
			kl += w * mst.KL
		}
		st.KL = kl
		if kl > 1.5*cfg.TargetKL {
			break
		}
	}
	t.observeInputs(trajs)
	t.pol.entNorm.refresh()
	t.pol.globNorm.refresh()
	return st
}

func normaliseAdvantages(all []*sample) {
	if len(all) < 2 {
		return
	}
	var mean, sq float64
	for _, s := range all {
		mean += s.adv
	}
	mean /= float64(len(all))
	for _, s := range all {
		sq += (s.adv - mean) * (s.adv - mean)
	}
	sd := math.Sqrt(sq/float64(len(all))) + 1e-8
	for _, s := range all {
		s.adv = (s.adv - mean) / sd
	}
}

// step is one Adam step of actor and critic on a minibatch.
func (t *ppo) step(mb []*sample, entCoef float64) updateStats {
	p, cfg := t.pol, t.cfg
	clear(t.gradA)
	clear(t.gradC)
	ls := p.logStd()
	inv2 := math.Exp(-2 * ls)
	B := float64(len(mb))
	var st updateStats
	nActor := len(p.actorVec) - 1
	for _, s := range mb {
		n := len(s.act)
		tapes := t.tapesFor(n)
		if cap(t.mus) < n {
			t.mus = make([]float64, n)
		}
		mus := t.mus[:n]
		logp := 0.0
		for i := range n {
			mus[i] = p.actor.forward(s.ents[i*p.entIn:(i+1)*p.entIn], tapes[i])[0]
			logp += gaussLogProb(s.act[i], mus[i], ls)
		}
		ratio := math.Exp(logp - s.logp)
		A := s.adv
		surr := min(ratio*A, math.Max(1-cfg.Clip, math.Min(1+cfg.Clip, ratio))*A)
		g := ratio * A // d surrogate / d logp, zero where the clip is active
		if (A >= 0 && ratio > 1+cfg.Clip) || (A < 0 && ratio < 1-cfg.Clip) {
			g = 0
			st.ClipFrac += 1 / B
		}
		st.PolicyLoss -= surr / B
		st.KL += (s.logp - logp) / B
		var dls float64
		for i := range n {
			d := s.act[i] - mus[i]
			t.dout[0] = -g * d * inv2 / B
			p.actor.backward(tapes[i], t.dout, t.gradA[:nActor])
			dls += -g * (d*d*inv2 - 1)
		}
		t.gradA[nActor] += (dls - entCoef*float64(n)) / B

		v := p.critic.forward(s.glob, t.ctape)[0]
		dv := v - s.ret
		st.ValueLoss += 0.5 * dv * dv / B
		t.dout[0] = dv / B
		p.critic.backward(t.ctape, t.dout, t.gradC)
	}
	st.Entropy = gaussEntropy(ls)
	t.actorOpt.step(p.actorVec, t.gradA)
	t.criticOpt.step(p.critic.params, t.gradC)
	// Keep exploration from collapsing to a point or exploding.
	p.actorVec[nActor] = min(0.5, max(-4, p.actorVec[nActor]))
	return st
}
