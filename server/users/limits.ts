// Pure constants, shared by the server and the sign-in form.

/** The longest address SMTP allows (RFC 5321's path limit less its angle brackets). */
export const EMAIL_MAX = 254;
export const PASSWORD_MIN = 8;
/** Argon2 has no input limit of its own; this one keeps a hash request cheap to refuse. */
export const PASSWORD_MAX = 1024;
/** A person's name as shown beside their email. */
export const NAME_MAX = 120;
