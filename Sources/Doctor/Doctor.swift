// Placeholder: killdb doctor's checks go here.
