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

func TestTacticReference(t *testing.T) {
	exec, err := LookupTactic("TA0002")
	require.NoError(t, err)
	assert.Equal(t, "https://attack.mitre.org/tactics/TA0002/", exec.Reference())
}

func TestTechniques(t *testing.T) {
	// A sub-technique is narrowed under its parent, as ECS puts them:
	// threat.technique.* is T1204, threat.technique.subtechnique.* T1204.002.
	tq, err := LookupTechnique("T1204.002", "")
	require.NoError(t, err)
	assert.Equal(t, Technique{ID: "T1204", Name: "User Execution", SubID: "T1204.002", SubName: "Malicious File"}, tq)
	assert.Equal(t, "https://attack.mitre.org/techniques/T1204/", tq.Reference())
	assert.Equal(t, "https://attack.mitre.org/techniques/T1204/002/", tq.SubReference())

	tq, err = LookupTechnique("T1071", "")
	require.NoError(t, err)
	assert.Equal(t, Technique{ID: "T1071", Name: "Application Layer Protocol"}, tq)
	assert.Empty(t, tq.SubReference())

	tq, err = LookupTechnique("T1003", "OS Credential Dumping")
	require.NoError(t, err)
	assert.Equal(t, "OS Credential Dumping", tq.Name)
	_, err = LookupTechnique("T1003", "")
	assert.ErrorContains(t, err, "technique_name")
	_, err = LookupTechnique("1003", "x")
	assert.ErrorContains(t, err, "not an ATT&CK technique id")

	// A sub-technique of a parent Cairn does not know needs ATT&CK's
	// "Technique: Sub-technique" name; a known parent only the sub's name.
	_, err = LookupTechnique("T1003.001", "LSASS Memory")
	assert.ErrorContains(t, err, `"Technique: Sub-technique"`)
	tq, err = LookupTechnique("T1003.001", "OS Credential Dumping: LSASS Memory")
	require.NoError(t, err)
	assert.Equal(t, Technique{ID: "T1003", Name: "OS Credential Dumping", SubID: "T1003.001", SubName: "LSASS Memory"}, tq)
	tq, err = LookupTechnique("T1059.006", "Python")
	require.NoError(t, err)
	assert.Equal(t, Technique{ID: "T1059", Name: "Command and Scripting Interpreter", SubID: "T1059.006", SubName: "Python"}, tq)
}

// TestTableHasParents: every sub-technique of the table resolves without
// configuration, so its parent is in the table too.
func TestTableHasParents(t *testing.T) {
	for id := range techniqueNames {
		tq, err := LookupTechnique(id, "")
		require.NoError(t, err, id)
		assert.NotContains(t, tq.ID, ".", "%s: threat.technique.id must be a technique", id)
		assert.NotEmpty(t, tq.Name, id)
	}
}

// TestDetectorForms: tactics and techniques as detectors write them (Sigma
// tags, lower case, names) resolve; what this table does not know is
// reported, not guessed.
func TestDetectorForms(t *testing.T) {
	for _, s := range []string{"TA0011", "ta0011", "Command and Control", "attack.command-and-control", "command_and_control"} {
		tc, ok := FindTactic(s)
		assert.True(t, ok, s)
		assert.Equal(t, "TA0011", tc.ID, s)
	}
	for _, s := range []string{"TA9999", "attack.lateral", "", "t1059"} {
		_, ok := FindTactic(s)
		assert.False(t, ok, s)
	}
	id, ok := NormalTechniqueID("attack.t1059.004")
	assert.True(t, ok)
	assert.Equal(t, "T1059.004", id)
	_, ok = NormalTechniqueID("attack.execution")
	assert.False(t, ok)

	assert.Equal(t, Technique{ID: "T1059", Name: "Command and Scripting Interpreter", SubID: "T1059.004", SubName: "Unix Shell"}, LookupTechniqueID("T1059.004"))
	// Newer than the table: the id stands in for the name.
	assert.Equal(t, Technique{ID: "T1686", Name: "T1686"}, LookupTechniqueID("T1686"))
	assert.Equal(t, Technique{ID: "T1685", Name: "T1685", SubID: "T1685.006", SubName: "T1685.006"}, LookupTechniqueID("T1685.006"))
	assert.Equal(t, Technique{ID: "T1053", Name: "Scheduled Task/Job", SubID: "T1053.002", SubName: "T1053.002"}, LookupTechniqueID("T1053.002"))
}

// TestDefenseEvasionSplit: both of ATT&CK v19's successors of Defense
// Evasion resolve, by id and by the names Sigma's tags use, and the old
// name still finds TA0005.
func TestDefenseEvasionSplit(t *testing.T) {
	for s, id := range map[string]string{"attack.stealth": "TA0005", "attack.defense-impairment": "TA0112",
		"TA0112": "TA0112", "Defense Evasion": "TA0005", "defense_evasion": "TA0005"} {
		tc, ok := FindTactic(s)
		assert.True(t, ok, s)
		assert.Equal(t, id, tc.ID, s)
	}
}
