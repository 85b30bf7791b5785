package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the console answers to; the help screen is generated
// from it, and disabled bindings (actions in --read-only) are neither shown
// nor matched.
type KeyMap struct {
	Quit key.Binding
	Help key.Binding

	NextPane key.Binding
	Zoom     key.Binding
	Follow   key.Binding
	Filter   key.Binding
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding

	Switchover  key.Binding
	Lab         key.Binding
	Maintenance key.Binding
	History     key.Binding

	// Confirm ends the filter prompt; Cancel leaves it, clears the filter
	// and the footer's line, and closes the help.
	Confirm key.Binding
	Cancel  key.Binding

	// The dialogs' own keys, listed in the help while their dialog is
	// offered.
	SwitchoverDialog  SwitchoverKeyMap
	LabDialog         LabKeyMap
	MaintenanceDialog MaintenanceKeyMap
	HistoryView       HistoryKeyMap
}

// DefaultKeyMap returns the console's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		NextPane:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "timeline/logs")),
		Zoom:        key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "logs full screen")),
		Follow:      key.NewBinding(key.WithKeys("space", "p"), key.WithHelp("space", "pause/follow")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
		Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
		PageUp:      key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "page down")),
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "oldest")),
		Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "newest, follow")),
		Switchover:  key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "switchover")),
		Lab:         key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "lab: fail/heal")),
		Maintenance: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "maintenance on/off")),
		History:     key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "history")),
		Confirm:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm")),
		Cancel:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel/clear")),

		SwitchoverDialog: SwitchoverKeyMap{
			Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "switch over")),
			Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
			Close:   key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "close")),
		},
		MaintenanceDialog: MaintenanceKeyMap{
			Next:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field")),
			Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "turn on/off")),
			Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		},
		HistoryView: HistoryKeyMap{
			Refresh: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
			Close:   key.NewBinding(key.WithKeys("esc", "q", "h"), key.WithHelp("esc", "close")),
		},
		LabDialog: LabKeyMap{
			Case:  key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "fail case")),
			Node:  key.NewBinding(key.WithKeys("tab", "n"), key.WithHelp("tab", "other node")),
			Heal:  key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "heal all")),
			Close: key.NewBinding(key.WithKeys("esc", "q", "L"), key.WithHelp("esc", "close")),
		},
	}
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Switchover, k.Maintenance, k.Lab, k.NextPane, k.Filter, k.Follow, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.NextPane, k.Zoom, k.Filter, k.Cancel, k.Follow},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Switchover, k.Maintenance, k.History, k.Lab, k.Help, k.Quit},
	}
}

// SwitchoverKeyMap is the switchover dialog's keys.
type SwitchoverKeyMap struct {
	Confirm key.Binding
	Cancel  key.Binding
	// Close closes the dialog, as Confirm and Cancel do, before the prompt
	// and after the run; at the prompt q is a letter of the name typed.
	Close key.Binding
}

// ShortHelp implements help.KeyMap.
func (k SwitchoverKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Confirm, k.Cancel}
}

// FullHelp implements help.KeyMap.
func (k SwitchoverKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.ShortHelp()}
}

// LabKeyMap is the lab dialog's keys.
type LabKeyMap struct {
	Case  key.Binding
	Node  key.Binding
	Heal  key.Binding
	Close key.Binding
}

// ShortHelp implements help.KeyMap.
func (k LabKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Case, k.Node, k.Heal, k.Close}
}

// FullHelp implements help.KeyMap.
func (k LabKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.ShortHelp()}
}

// MaintenanceKeyMap is the maintenance dialog's keys.
type MaintenanceKeyMap struct {
	Next    key.Binding
	Confirm key.Binding
	Cancel  key.Binding
}

// ShortHelp implements help.KeyMap.
func (k MaintenanceKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Next, k.Confirm, k.Cancel}
}

// FullHelp implements help.KeyMap.
func (k MaintenanceKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.ShortHelp()}
}
