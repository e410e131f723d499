/** The relation sampling nodes send a message they let through by... */
export const PASSED = 'Success';
/** ...and the one they send a message they hold back by (unlinked: the message is simply done). */
export const SKIPPED = 'Skipped';
