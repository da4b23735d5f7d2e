package attack

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTactics(t *testing.T) {
	c2, err := LookupTactic("TA0011")
	require.NoError(t, err)
	assert.Equal(t, "Command and Control", c2.Name)
	assert.Equal(t, c2, TacticByIndex(c2.Index))
	_, err = LookupTactic("TA9999")
	assert.ErrorContains(t, err, "TA9999")
	seen := map[int]bool{}
	for _, tc := range tactics {
		assert.False(t, seen[tc.Index])
		seen[tc.Index] = true
	}
	assert.Less(t, len(tactics), 32, "tactic sets are 32-bit masks")
}

func TestTechniques(t *testing.T) {
	tq, err := LookupTechnique("T1204.002", "")
	require.NoError(t, err)
	assert.Equal(t, "Malicious File", tq.Name)
	tq, err = LookupTechnique("T1003", "OS Credential Dumping")
	require.NoError(t, err)
	assert.Equal(t, "OS Credential Dumping", tq.Name)
	_, err = LookupTechnique("T1003", "")
	assert.ErrorContains(t, err, "technique_name")
	_, err = LookupTechnique("1003", "x")
	assert.ErrorContains(t, err, "not an ATT&CK technique id")
}
