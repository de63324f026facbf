// What the human forms of flux-core's tools print with (dmesg -H, eventlog -H, overlay status): SGR colour
// codes, and the month abbreviations of their `[MonDD HH:MM]` stamps (and of the dates cron prints).
export const RESET = '\x1b[0m';
export const BOLD = '\x1b[1m';
export const REVERSE = '\x1b[7m';
export const RED = '\x1b[31m';
export const GREEN = '\x1b[32m';
export const YELLOW = '\x1b[33m';
export const BLUE = '\x1b[34m';
export const MAGENTA = '\x1b[35m';
export const GRAY = '\x1b[37m';

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
