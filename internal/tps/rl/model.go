package rl

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// Model is a trained policy: the actor and critic weights with the input statistics they
// were trained with. The learned allocator reads only the actor; the critic is kept so a
// model can be trained further.
type Model struct {
	pol *policy
}

// The model file, little-endian:
//
//	"AYATPSRL"                      magic, 8 bytes
//	uint32 version                  modelVersion
//	uint32 service features, pool features, hidden units
//	float64 × F  service feature means, then × F deviations
//	float64 × G  pool feature means, then × G deviations
//	float64 × …  actor parameters (layers in order, weights row-major then biases), log std
//	float64 × …  critic parameters
//	uint32 CRC-32 (IEEE) of everything before it
const (
	modelMagic   = "AYATPSRL"
	modelVersion = 1
)

//go:embed model/default.bin
var defaultModel []byte

// DefaultModel is the model shipped inside the binary (trained by `aya tps train` on the
// generated trace families).
func DefaultModel() (*Model, error) {
	m, err := ReadModel(bytes.NewReader(defaultModel))
	if err != nil {
		return nil, fmt.Errorf("embedded TPS model: %w", err)
	}
	return m, nil
}

// LoadModelFile reads a model written by Save (or `aya tps train --out`).
func LoadModelFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("TPS model: %w", err)
	}
	defer f.Close()
	m, err := ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("TPS model %s: %w (train a new one with `aya tps train --out %s`)", path, err, path)
	}
	return m, nil
}

// Save writes the model to path.
func (m *Model) Save(path string) error {
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save TPS model: %w", err)
	}
	return nil
}

// WriteTo writes the model file format.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	p := m.pol
	var buf bytes.Buffer
	buf.WriteString(modelMagic)
	le := binary.LittleEndian
	for _, v := range []uint32{modelVersion, uint32(p.entIn), uint32(p.globIn), uint32(p.hidden)} {
		buf.Write(le.AppendUint32(nil, v))
	}
	for _, vs := range [][]float64{p.entNorm.mean, p.entNorm.sd, p.globNorm.mean, p.globNorm.sd, p.actorVec, p.critic.params} {
		for _, v := range vs {
			buf.Write(le.AppendUint64(nil, math.Float64bits(v)))
		}
	}
	buf.Write(le.AppendUint32(nil, crc32.ChecksumIEEE(buf.Bytes())))
	n, err := w.Write(buf.Bytes())
	return int64(n), err
}

var errModelFormat = errors.New("not an aya TPS model file")

// ReadModel parses the model file format and checks that the model fits this build's
// features.
func ReadModel(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	const head = len(modelMagic) + 16
	if len(data) < head+4 || string(data[:len(modelMagic)]) != modelMagic {
		return nil, errModelFormat
	}
	le := binary.LittleEndian
	body, sum := data[:len(data)-4], le.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or corrupted)", errModelFormat)
	}
	u := func(i int) int { return int(le.Uint32(data[len(modelMagic)+4*i:])) }
	version, ent, glob, hidden := u(0), u(1), u(2), u(3)
	if version != modelVersion {
		return nil, fmt.Errorf("model format version %d, this aya reads version %d", version, modelVersion)
	}
	if ent != serviceFeatures || glob != poolFeatures {
		return nil, fmt.Errorf("model has %d service and %d pool features, this aya computes %d and %d", ent, glob, serviceFeatures, poolFeatures)
	}
	if hidden < 1 || hidden > 1024 {
		return nil, fmt.Errorf("%w: %d hidden units", errModelFormat, hidden)
	}
	p := &policy{entIn: ent, globIn: glob, hidden: hidden, entNorm: newNormalizer(ent), globNorm: newNormalizer(glob)}
	p.actorVec = make([]float64, mlpSize(p.actorSizes())+1)
	critic := make([]float64, mlpSize(p.criticSizes()))
	vectors := [][]float64{p.entNorm.mean, p.entNorm.sd, p.globNorm.mean, p.globNorm.sd, p.actorVec, critic}
	want := head + 4
	for _, vs := range vectors {
		want += 8 * len(vs)
	}
	if len(data) != want {
		return nil, fmt.Errorf("%w: %d bytes, want %d for %d hidden units", errModelFormat, len(data), want, hidden)
	}
	off := head
	for _, vs := range vectors {
		for i := range vs {
			vs[i] = math.Float64frombits(le.Uint64(data[off:]))
			if math.IsNaN(vs[i]) || math.IsInf(vs[i], 0) {
				return nil, fmt.Errorf("%w: a parameter is not finite", errModelFormat)
			}
			off += 8
		}
	}
	p.actor = newMLP(p.actorSizes(), p.actorVec[:len(p.actorVec)-1], 0, nil)
	p.critic = newMLP(p.criticSizes(), critic, 0, nil)
	return &Model{pol: p}, nil
}
