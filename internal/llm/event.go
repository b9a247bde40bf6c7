package llm

// Kinds of stream Event.
type EventKind uint8

const (
	// EventStart opens the answer: ID, Model, and Usage when the provider tells the prompt's
	// size up front (Anthropic does).
	EventStart EventKind = iota + 1
	// EventText carries Text, a piece of the answer.
	EventText
	// EventToolStart opens tool call Index (0, 1, … in the order calls start) with ID and Name.
	EventToolStart
	// EventToolArgs carries Text, the next fragment of tool call Index's JSON arguments.
	EventToolArgs
	// EventFinish carries Finish (and StopSequence when a stop sequence ended the answer).
	EventFinish
	// EventUsage carries Usage: the totals so far (a later one replaces an earlier one).
	EventUsage
)

// Event is one step of a streamed answer. Which fields are set depends on Kind.
type Event struct {
	Kind         EventKind
	ID           string
	Model        string
	Text         string
	Index        int
	Name         string
	Finish       string
	StopSequence string
	Usage        Usage
}

// Stream is a streamed answer being read from a provider. Next returns the next event, io.EOF
// after the last one, or an *Error when the provider failed mid-stream. Close releases the
// upstream connection; it may be called at any time, and must be called.
type Stream interface {
	Next() (Event, error)
	Close() error
}
