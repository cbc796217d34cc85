/** What writers NOTIFY while the drainer sleeps (capture.wake_drainer); a test holds the migrations' SQL to it. */
export const WAKE_UP_CHANNEL = 'capture';

/** What the drainer NOTIFYs (payload: the batch's last id) with each batch it commits; every instance's tail LISTENs. */
export const NOTIFICATIONS_CHANNEL = 'rowcast_notifications';
