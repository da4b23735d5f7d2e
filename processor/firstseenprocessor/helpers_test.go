package firstseenprocessor

import "github.com/cairnsec/cairn/internal/duration"

type durationT = duration.Duration
