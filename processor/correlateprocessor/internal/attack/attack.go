// Package attack names MITRE ATT&CK (Enterprise) tactics and the techniques
// Cairn's default signals refer to, so that configuration can give bare ids
// and alerts still carry the names analysts read.
package attack

import (
	"fmt"
	"regexp"
	"strings"
)

// Framework is the value of ECS threat.framework.
const Framework = "MITRE ATT&CK"

// Tactic is an ATT&CK tactic.
type Tactic struct {
	ID, Name string
	// Index is a small dense number, so that a set of tactics fits a bitmask.
	Index int
}

// The Enterprise tactics, in the matrix's order.
var tactics = []Tactic{
	{ID: "TA0043", Name: "Reconnaissance"},
	{ID: "TA0042", Name: "Resource Development"},
	{ID: "TA0001", Name: "Initial Access"},
	{ID: "TA0002", Name: "Execution"},
	{ID: "TA0003", Name: "Persistence"},
	{ID: "TA0004", Name: "Privilege Escalation"},
	{ID: "TA0005", Name: "Defense Evasion"},
	{ID: "TA0006", Name: "Credential Access"},
	{ID: "TA0007", Name: "Discovery"},
	{ID: "TA0008", Name: "Lateral Movement"},
	{ID: "TA0009", Name: "Collection"},
	{ID: "TA0011", Name: "Command and Control"},
	{ID: "TA0010", Name: "Exfiltration"},
	{ID: "TA0040", Name: "Impact"},
}

var byID = func() map[string]Tactic {
	m := make(map[string]Tactic, len(tactics))
	for i := range tactics {
		tactics[i].Index = i
		m[tactics[i].ID] = tactics[i]
	}
	return m
}()

// LookupTactic returns the tactic with the given id (e.g. "TA0011").
func LookupTactic(id string) (Tactic, error) {
	t, ok := byID[id]
	if !ok {
		return Tactic{}, fmt.Errorf("unknown ATT&CK tactic %q (expected an Enterprise tactic id such as TA0002)", id)
	}
	return t, nil
}

// TacticByIndex returns the tactic with the given Index.
func TacticByIndex(i int) Tactic { return tactics[i] }

// Reference is the tactic's page on attack.mitre.org, the form of ECS
// threat.tactic.reference (https://attack.mitre.org/tactics/TA0002/).
func (t Tactic) Reference() string { return "https://attack.mitre.org/tactics/" + t.ID + "/" }

// techniqueNames covers the techniques and sub-techniques Cairn's defaults
// and documentation use, and the parents of those sub-techniques (a
// sub-technique's alert names its parent too); others need their name in
// configuration. Names as ATT&CK (Enterprise) gives them.
var techniqueNames = map[string]string{
	"T1059":     "Command and Scripting Interpreter",
	"T1059.004": "Unix Shell",
	"T1071":     "Application Layer Protocol",
	"T1071.004": "DNS",
	"T1078":     "Valid Accounts",
	"T1105":     "Ingress Tool Transfer",
	"T1204":     "User Execution",
	"T1204.002": "Malicious File",
	"T1568":     "Dynamic Resolution",
	"T1571":     "Non-Standard Port",
	"T1610":     "Deploy Container",
}

var techniqueID = regexp.MustCompile(`^(T\d{4})(\.\d{3})?$`)

// Technique is what one signal says about ATT&CK techniques, in the shape
// of ECS: threat.technique.* is always the technique (T1204 "User
// Execution"); a sub-technique (T1204.002 "Malicious File") goes to
// threat.technique.subtechnique.*, under its parent.
type Technique struct {
	ID, Name string
	// SubID and SubName are set when the signal names a sub-technique.
	SubID, SubName string
}

// Reference is the technique's page, the form of ECS
// threat.technique.reference (https://attack.mitre.org/techniques/T1204/).
func (t Technique) Reference() string { return "https://attack.mitre.org/techniques/" + t.ID + "/" }

// SubReference is the sub-technique's page, the form of ECS
// threat.technique.subtechnique.reference
// (https://attack.mitre.org/techniques/T1204/002/); "" without one.
func (t Technique) SubReference() string {
	if t.SubID == "" {
		return ""
	}
	return "https://attack.mitre.org/techniques/" + strings.Replace(t.SubID, ".", "/", 1) + "/"
}

// LookupTechnique checks a technique or sub-technique id and returns it
// with its names: the given name, else the known one. A sub-technique
// needs its parent's name too: ATT&CK's own "Technique: Sub-technique"
// form ("User Execution: Malicious File") gives both, a plain name is the
// sub-technique's and the parent's comes from the table.
func LookupTechnique(id, name string) (Technique, error) {
	m := techniqueID.FindStringSubmatch(id)
	if m == nil {
		return Technique{}, fmt.Errorf("technique %q is not an ATT&CK technique id (T1234 or T1234.001)", id)
	}
	if m[2] == "" {
		if name == "" {
			name = techniqueNames[id]
		}
		if name == "" {
			return Technique{}, fmt.Errorf("technique %s: set technique_name (Cairn only knows the names of the techniques its defaults use)", id)
		}
		return Technique{ID: id, Name: name}, nil
	}
	t := Technique{ID: m[1], Name: techniqueNames[m[1]], SubID: id, SubName: name}
	if parent, sub, ok := strings.Cut(name, ": "); ok {
		t.Name, t.SubName = strings.TrimSpace(parent), strings.TrimSpace(sub)
	}
	if t.SubName == "" {
		t.SubName = techniqueNames[id]
	}
	if t.SubName == "" || t.Name == "" {
		return Technique{}, fmt.Errorf("sub-technique %s: set technique_name to ATT&CK's \"Technique: Sub-technique\" name (e.g. \"OS Credential Dumping: LSASS Memory\"): Cairn only knows the names of the techniques its defaults use", id)
	}
	return t, nil
}
