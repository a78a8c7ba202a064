// Placeholder: the audit rule generator and linter (killdb rules) goes here.
