package engine

import "unique"

// Text is an interned string. Evidence repeats the same executables,
// users, hashes and destinations across events and hosts; interning makes
// each distinct value cost its bytes once, and a field one pointer, which
// is most of what keeps an entity within its memory budget.
type Text struct{ h unique.Handle[string] }

// Intern returns the Text for s; "" gives the zero Text.
func Intern(s string) Text {
	if s == "" {
		return Text{}
	}
	return Text{unique.Make(s)}
}

// String returns the text.
func (t Text) String() string {
	if t == (Text{}) {
		return ""
	}
	return t.h.Value()
}

// IsZero reports whether the text is empty.
func (t Text) IsZero() bool { return t == (Text{}) }

// MarshalText implements encoding.TextMarshaler, for persisted state.
func (t Text) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Text) UnmarshalText(b []byte) error {
	*t = Intern(string(b))
	return nil
}
