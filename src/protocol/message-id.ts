/** Message ids are ULIDs: 26 Crockford base32 characters that sort by creation time. */
export const MESSAGE_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
