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

// The Enterprise tactics, in the matrix's order. ATT&CK v19 split Defense
// Evasion: TA0005 is now Stealth, and Defense Impairment is the new TA0112
// (SigmaHQ's rules are tagged attack.stealth and attack.defense-impairment;
// the old name still finds TA0005, see FindTactic).
var tactics = []Tactic{
	{ID: "TA0043", Name: "Reconnaissance"},
	{ID: "TA0042", Name: "Resource Development"},
	{ID: "TA0001", Name: "Initial Access"},
	{ID: "TA0002", Name: "Execution"},
	{ID: "TA0003", Name: "Persistence"},
	{ID: "TA0004", Name: "Privilege Escalation"},
	{ID: "TA0005", Name: "Stealth"},
	{ID: "TA0112", Name: "Defense Impairment"},
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
//
// Beyond those, the table names the techniques the Linux rules of SigmaHQ
// tag most, so that the alerts of Sigma signals (whose details carry the
// rule's technique ids) name them; an id not in the table still reaches the
// alert, with the id as its name (see LookupTechniqueID).
var techniqueNames = map[string]string{
	"T1005":     "Data from Local System",
	"T1007":     "System Service Discovery",
	"T1014":     "Rootkit",
	"T1016":     "System Network Configuration Discovery",
	"T1018":     "Remote System Discovery",
	"T1027":     "Obfuscated Files or Information",
	"T1033":     "System Owner/User Discovery",
	"T1036":     "Masquerading",
	"T1040":     "Network Sniffing",
	"T1046":     "Network Service Discovery",
	"T1048":     "Exfiltration Over Alternative Protocol",
	"T1049":     "System Network Connections Discovery",
	"T1053":     "Scheduled Task/Job",
	"T1053.003": "Cron",
	"T1055":     "Process Injection",
	"T1057":     "Process Discovery",
	"T1059":     "Command and Scripting Interpreter",
	"T1059.004": "Unix Shell",
	"T1059.006": "Python",
	"T1070":     "Indicator Removal",
	"T1070.004": "File Deletion",
	"T1071":     "Application Layer Protocol",
	"T1071.001": "Web Protocols",
	"T1071.004": "DNS",
	"T1078":     "Valid Accounts",
	"T1082":     "System Information Discovery",
	"T1083":     "File and Directory Discovery",
	"T1087":     "Account Discovery",
	"T1090":     "Proxy",
	"T1098":     "Account Manipulation",
	"T1102":     "Web Service",
	"T1105":     "Ingress Tool Transfer",
	"T1136":     "Create Account",
	"T1140":     "Deobfuscate/Decode Files or Information",
	"T1190":     "Exploit Public-Facing Application",
	"T1203":     "Exploitation for Client Execution",
	"T1204":     "User Execution",
	"T1204.002": "Malicious File",
	"T1222":     "File and Directory Permissions Modification",
	"T1485":     "Data Destruction",
	"T1489":     "Service Stop",
	"T1496":     "Resource Hijacking",
	"T1505":     "Server Software Component",
	"T1505.003": "Web Shell",
	"T1543":     "Create or Modify System Process",
	"T1543.002": "Systemd Service",
	"T1548":     "Abuse Elevation Control Mechanism",
	"T1548.003": "Sudo and Sudo Caching",
	"T1552":     "Unsecured Credentials",
	"T1552.001": "Credentials In Files",
	"T1560":     "Archive Collected Data",
	"T1560.001": "Archive via Utility",
	"T1562":     "Impair Defenses",
	"T1567":     "Exfiltration Over Web Service",
	"T1568":     "Dynamic Resolution",
	"T1571":     "Non-Standard Port",
	"T1572":     "Protocol Tunneling",
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

// tacticNames finds tactics by name in the forms detectors write them:
// ATT&CK's own ("Command and Control") and Sigma's tags
// ("attack.command-and-control", "command_and_control").
var tacticNames = func() map[string]Tactic {
	m := make(map[string]Tactic, len(tactics))
	for _, t := range byID {
		m[normalName(t.Name)] = t
	}
	m["defense evasion"] = byID["TA0005"]
	return m
}()

func normalName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "attack.")
	return strings.NewReplacer("-", " ", "_", " ").Replace(s)
}

// FindTactic reads a tactic a detector names: an id in any case (TA0011,
// ta0011) or a name (Command and Control, attack.command-and-control). ok
// is false for anything else, such as tactics of a newer ATT&CK release
// than this table: a detail's unknown tactic is left out, not an error.
func FindTactic(s string) (Tactic, bool) {
	if t, ok := byID[strings.ToUpper(strings.TrimSpace(s))]; ok {
		return t, true
	}
	t, ok := tacticNames[normalName(s)]
	return t, ok
}

// NormalTechniqueID returns a detector's technique id in ATT&CK's form
// (T1059.004 from "t1059.004" or Sigma's tag "attack.t1059.004"); ok is
// false when it is not a technique id at all.
func NormalTechniqueID(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "ATTACK.")
	if !techniqueID.MatchString(s) {
		return "", false
	}
	return s, true
}

// LookupTechniqueID resolves a well-formed technique id (see
// NormalTechniqueID) without configuration: with the names the table has,
// and the id itself as the name of a technique it does not know (ATT&CK
// grows faster than this table; the id and its reference still lead an
// analyst to it).
func LookupTechniqueID(id string) Technique {
	if t, err := LookupTechnique(id, ""); err == nil {
		return t
	}
	parent, _, isSub := strings.Cut(id, ".")
	t := Technique{ID: parent, Name: techniqueNames[parent]}
	if t.Name == "" {
		t.Name = parent
	}
	if isSub {
		t.SubID, t.SubName = id, techniqueNames[id]
		if t.SubName == "" {
			t.SubName = id
		}
	}
	return t
}
