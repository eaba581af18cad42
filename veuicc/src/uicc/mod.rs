//! UICC file system and commands of the enabled profile.
