package events

import (
	"embed"
	"path"
)

// The JSON Schema (draft 2020-12) of the message body of each family, in
// schema/<family>.json: what a CTI adapter in any language may validate
// against. They are generated from the Go types (go test ./events -run
// TestSchemaFiles -update) and every example event's message is tested
// against its family's.
//
//go:embed schema/*.json
var schemaFiles embed.FS

// Schema returns the JSON Schema of the message body of the family's
// events, or nil for a family without one (FamilyUnknown).
func Schema(f Family) []byte {
	b, err := schemaFiles.ReadFile(path.Join("schema", string(f)+".json"))
	if err != nil {
		return nil
	}
	return b
}

// Families returns the families of the events this package models.
func Families() []Family {
	return []Family{FamilyUser, FamilyTask, FamilyReservation, FamilyAgent, FamilyEngagement, FamilyTransfer, FamilyConference, FamilyRecording, FamilyRTMS}
}
